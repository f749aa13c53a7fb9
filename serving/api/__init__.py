"""The request APIs over loaded servables: handlers shared by REST and gRPC, JSON and proto
tensors, batching, metrics and request logs."""
