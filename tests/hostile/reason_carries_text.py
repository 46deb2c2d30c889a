# Fail with our own text in the exception, hoping it lands in the results.
raise ValueError("@@MARKER@@ " * 100)
