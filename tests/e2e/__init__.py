"""
End-to-end runs: a live ERP against a platform emulator, through the
engine.
"""
