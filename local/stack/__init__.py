"""The local stack: moto for the AWS APIs, the workdir's PostgreSQL, the resources the CDK app creates."""
