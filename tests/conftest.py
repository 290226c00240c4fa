pytest_plugins = [
    "demo_plugin",
    "servers_plugin",
    "pg_plugin",
    "prom_plugin",
    "site_plugin",
    "browser_plugin",
]
