"""The three marts (member lifetime, group vitality, 大C contribution) and the weekly KPI roll-up."""
