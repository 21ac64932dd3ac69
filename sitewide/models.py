from django.db import models


class CacheEntry(models.Model):
    """One value of the shared cache in the database (``sitewide.cache.DatabaseCache``):
    the rate limits' counts and the page cache's generations."""

    key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField()  # pickled, in base64, as Django's database cache stores it
    expires = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "cache entry"
        verbose_name_plural = "cache entries"

    def __str__(self):
        return self.key
