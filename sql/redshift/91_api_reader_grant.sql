-- Which user does the query API act as? The API function's (infra/api.py api_db_user). Deploy-only.
CALL analytics.grant_api_reader('{{API_DB_USER}}');
