"""The alert path: procedure windows for the rollup, episode de-duplication, bus -> SNS routing."""
