"""Compliance exports: findings, remediation and evidence in several formats, with a manifest."""
