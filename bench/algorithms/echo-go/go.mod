module example.com/bench-echo-go

go 1.22

require github.com/algos-dev/algos v0.0.0
