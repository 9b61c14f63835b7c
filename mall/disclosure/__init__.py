"""Public disclosure (信息公开): what anyone may read without signing in."""
