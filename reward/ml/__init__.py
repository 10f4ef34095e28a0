"""The bundled music reward model (pure torch, no Django): front-end, network, training, checkpoints."""
