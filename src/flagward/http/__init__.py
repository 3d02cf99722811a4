"""The HTTP edge: LaunchDarkly's REST API v2 and SDK endpoints. Handlers parse, call one service
function and present the result; every error leaves through ``errors.py``."""
