"""lmd_studio.training"""
