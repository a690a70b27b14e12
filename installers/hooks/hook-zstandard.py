"""zstandard ships two native backends of ~12 MB each; its default (and ours) is the C
extension, so the cffi one is left out."""

hiddenimports = ["zstandard.backend_c"]
excludedimports = ["zstandard._cffi", "zstandard.backend_cffi"]
