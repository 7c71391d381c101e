# reference/: mychat-server and mychat (issue 4).
