from rest_framework.routers import SimpleRouter

from contacts_import.api.contacts import ContactViewSet
from contacts_import.api.imports import ImportJobViewSet

app_name = "contacts_import"

router = SimpleRouter()
router.register("imports", ImportJobViewSet, basename="import")
router.register("", ContactViewSet, basename="contact")

urlpatterns = router.urls
