"""The operator screens: Inventory → Endpoints and Groups."""


app_name = "inventory"

urlpatterns: list = []  # filled by the portal screens
