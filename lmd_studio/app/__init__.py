"""lmd_studio.app"""
