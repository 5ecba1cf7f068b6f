"""Prescriber coordination: releases of information, coordination notes, coordination reports."""
