"""HTTP layer: route tables and handlers that parse requests and shape responses, nothing more."""
