"""The training side's loop: episodes from Redis into Coach, train, publish (``python -m training_worker``)."""
