"""Adapters: the only modules that talk to AWS (S3, SQS, DynamoDB)."""
