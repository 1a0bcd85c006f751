"""Who may do what: roles, the permission matrix and API keys (:mod:`.permissions`,
:mod:`.api_keys`). The REST API checks them; the console will check the same matrix."""
