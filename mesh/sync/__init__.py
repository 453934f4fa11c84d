"""The leader's cloud agent: probes the back office, uploads, commits the cloud's answers.

Runs only on the leader and stops the moment it is deposed. It talks HTTP to the
cloud (httpx) and speaks to the cluster only by proposing commands. Must never
import: ``mesh.node``, ``mesh.net``, ``mesh.client`` or the apps.
"""
