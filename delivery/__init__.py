"""Delivery: pushes the deduplicated feed to the sinks of the sources file (webhooks, RabbitMQ,
NATS JetStream, Redis Streams, files), each from its own cursor in the store, advanced only
after the sink confirmed (README, "Delivery to downstream systems")."""
