"""What the logs say: attribution of charges, the findings store, refunds, timelines,
status and the caveats of an answer."""
