"""Referral / invite-a-friend: rewards per qualified invite, milestones, two levels at most."""
