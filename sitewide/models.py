from django.db import models


class CacheEntry(models.Model):
    """One value of the shared cache in the database (``sitewide.cache.DatabaseCache``):
    the page cache's generations."""

    key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField()  # pickled, in base64, as Django's database cache stores it
    expires = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "cache entry"
        verbose_name_plural = "cache entries"

    def __str__(self):
        return self.key


class RateWindow(models.Model):
    """One identity's attempts in its current window (``sitewide.ratelimit``): counted by
    every app server alike, under a keyed hash of the identity, never the identity."""

    key = models.CharField(max_length=100, primary_key=True)
    ends = models.BigIntegerField(db_index=True)  # Unix time, whole seconds
    attempts = models.IntegerField()

    class Meta:
        verbose_name = "rate-limit window"
        verbose_name_plural = "rate-limit windows"

    def __str__(self):
        return self.key
