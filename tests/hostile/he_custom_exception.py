    # Fail with an exception class named like a secret, carrying a secret.
    Pwned = type("@@MARKER@@", (Exception,), {})
    raise Pwned("@@MARKER@@ @@SECRET_NAME@@")
