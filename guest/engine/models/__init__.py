"""The typed shapes of the API's request bodies, one module per resource, decoded with Go's
strictness (decoding.decode) so that the engine only ever sees well-typed values."""
