"""The Lambda runtime on one machine: SQS events and contexts, the real handler, queue workers, the DLQ."""
