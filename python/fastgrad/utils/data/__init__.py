"""fastgrad.utils.data: Dataset, DataLoader, random_split."""
