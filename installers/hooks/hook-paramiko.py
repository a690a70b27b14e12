"""paramiko: bcrypt (encrypted OpenSSH keys) and PyNaCl (ed25519) are imported lazily in some
versions; cryptography's Rust bindings come with the contrib hook. invoke and gssapi are
optional extras we never use."""

hiddenimports = ["bcrypt", "nacl.signing", "nacl.bindings", "cryptography.hazmat.bindings._rust"]
excludedimports = ["invoke", "gssapi"]
