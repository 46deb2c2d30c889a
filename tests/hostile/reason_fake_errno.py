# An OSError whose message looks like an errno line followed by our text.
raise OSError("[Errno 2] @@MARKER@@")
