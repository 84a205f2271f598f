"""What a local run shows: the ledger's outcomes, the run report, insights, report.html, the terminal summary."""
