"""The birds page (role ``frontend``): its static files and a same-origin proxy to the APIs."""
