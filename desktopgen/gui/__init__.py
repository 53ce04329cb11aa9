"""The Qt layer: main window, canvases, live plots and the worker threads that drive the engine.

The only package that imports Qt. It never calls into torch on the GUI thread: workers own the
models and send small immutable events across threads.
"""
