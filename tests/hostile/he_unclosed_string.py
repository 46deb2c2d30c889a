    return True
"""
