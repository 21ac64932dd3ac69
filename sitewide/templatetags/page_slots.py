"""``{% slot "name" %}``: a hole in a kept page that the view fills for each response."""

from django import template

from sitewide import pagecache

register = template.Library()


@register.simple_tag
def slot(name):
    return pagecache.slot(name)
