"""End-to-end tests: whole journeys, from a model trained (by nnfx's trainer, PyTorch) or built,
through ``nnfx.compile``, to an engine's outputs (the C-simulations, the fixed-point ONNX model
on onnxruntime) or the compiled model's accuracy. Unit tests of each module live in the
directory that mirrors the package."""
