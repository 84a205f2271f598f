-- etl.parked_rejects (040) came on a branch that 051's grants did not know: the ingest records
-- refused parked rows there (append-only: no UPDATE, no DELETE), readers see them.
GRANT SELECT, INSERT ON etl.parked_rejects TO lake_ingest;
GRANT SELECT ON etl.parked_rejects TO lake_reader;
