"""lmd_studio.settings"""
