module example.com/hello-go

go 1.22

require github.com/algos-dev/algos v0.0.0
