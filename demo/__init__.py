"""The demo: a synthesiser, a demo catalogue with simulated votes, and the build of the bundled reward model."""
