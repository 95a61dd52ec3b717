"""The rollout worker: plays the built-in simulator with the current policy and serves episodes over Redis.

It speaks the simulation worker's side of docs/protocol.md §4.2 and §5, so it runs against our trainer
or any trainer that speaks the protocol.
"""
