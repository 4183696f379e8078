"""AWS Lambda: a function from an image (with the Web Adapter) or a zip."""
