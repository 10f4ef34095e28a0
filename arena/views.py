"""Pages of the arena: the rater's listening page."""
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def arena_page(request: HttpRequest) -> HttpResponse:
    return render(request, "arena/arena.html")
