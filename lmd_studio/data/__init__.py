"""lmd_studio.data"""
