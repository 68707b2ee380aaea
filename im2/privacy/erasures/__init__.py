"""The record of each erasure (`privacy_erasures`): what makes erasing twice a no-op, and the
durable to-do of the lake rewrite that runs after the erasure's commit."""
