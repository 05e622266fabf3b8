"""torch: codec, DiT + masks + KV caches, conditioning, samplers, TorchBlockGenerator, LoRA, checkpoint I/O."""
