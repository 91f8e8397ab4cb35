"""`andon serve`: one process hosting the receivers, the JSON API, the console and the scheduler."""
