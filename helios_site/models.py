"""No models: present so that post_migrate reaches this app (it syncs the role groups)."""
