"""The district side: gates' messages from the RabbitMQ cluster into PostgreSQL, the district page.

Nothing here is imported by the gate service: a gate runs without any of it.
"""
